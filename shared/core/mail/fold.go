package mail

import (
	"unicode"
	"unicode/utf8"
)

// Fold lower-cases s and folds accented Latin letters to ASCII ("Grüße" ->
// "grusse"), dropping combining accents.
func Fold(s string) string {
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		buf = AppendFold(buf, r)
	}
	return string(buf)
}

// AppendFold appends r folded to ASCII lower case where possible: how both
// the mail reader and the intent engine compare words.
func AppendFold(buf []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(buf, byte(r))
	}
	if s, ok := foldTable[r]; ok {
		return append(buf, s...)
	}
	return utf8.AppendRune(buf, unicode.ToLower(r))
}

// foldTable maps Latin-1 and Latin Extended-A letters to ASCII.
var foldTable = func() map[rune]string {
	m := map[rune]string{}
	add := func(to string, from string) {
		for _, r := range from {
			m[r] = to
		}
	}
	add("a", "àáâãäåāăąÀÁÂÃÄÅĀĂĄ")
	add("ae", "æÆ")
	add("c", "çćĉċčÇĆĈĊČ")
	add("d", "ďđĎĐ")
	add("e", "èéêëēĕėęěÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģĜĞĠĢ")
	add("i", "ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ")
	add("n", "ñńņňÑŃŅŇ")
	add("o", "òóôõöøōŏőÒÓÔÕÖØŌŎŐ")
	add("oe", "œŒ")
	add("s", "śŝşšŚŜŞŠ")
	add("ss", "ß")
	add("t", "ţťŢŤ")
	add("u", "ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ")
	add("y", "ýÿÝŸ")
	add("z", "źżžŹŻŽ")
	return m
}()
