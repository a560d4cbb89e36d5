package graph

// WindowsZoneNames lists the Windows zone names the embedded CLDR table maps.
var WindowsZoneNames = windowsZoneNames
