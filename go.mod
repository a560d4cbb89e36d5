module github.com/stagemover/stagemover

go 1.26
