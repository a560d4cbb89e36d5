package graph

import (
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	// The IANA zones load from Go's own copy of the tz database, whatever
	// the host has: a provided.al2023 Lambda is not promised a
	// /usr/share/zoneinfo. It adds about 450 KB to a binary.
	_ "time/tzdata"
)

// ErrUnknownTimeZone marks a dateTimeTimeZone whose zone is neither UTC, a
// Windows zone name CLDR maps, nor an IANA zone.
var ErrUnknownTimeZone = errors.New("graph: unknown time zone")

// windowsZonesXML is CLDR's supplemental/windowsZones.xml, verbatim (see
// cldr/README.md for its origin, version and license).
//
//go:embed cldr/windowsZones.xml
var windowsZonesXML []byte

// windowsZones maps a Windows zone name, lower case, to the IANA zone CLDR
// gives it for territory "001" (the zone the name stands for when nothing
// says where the user is).
var windowsZones = sync.OnceValue(func() map[string]string {
	var doc struct {
		Zones []struct {
			Other     string `xml:"other,attr"`
			Territory string `xml:"territory,attr"`
			Type      string `xml:"type,attr"`
		} `xml:"windowsZones>mapTimezones>mapZone"`
	}
	if err := xml.Unmarshal(windowsZonesXML, &doc); err != nil {
		panic("graph: embedded windowsZones.xml: " + err.Error())
	}
	m := make(map[string]string, 150)
	for _, z := range doc.Zones {
		if z.Territory == "001" && z.Other != "" && z.Type != "" {
			m[strings.ToLower(z.Other)] = strings.Fields(z.Type)[0]
		}
	}
	return m
})

// windowsZoneNames lists the Windows zone names the table maps (lower case).
func windowsZoneNames() []string {
	var out []string
	for k := range windowsZones() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// zoneLocation resolves a dateTimeTimeZone's timeZone: empty or UTC (also
// Exchange's "tzone://Microsoft/Utc"), a Windows zone name ("Pacific
// Standard Time", which Graph returns when it does not convert times to the
// zone the Prefer header asks for), or an IANA name.
func zoneLocation(tz string) (*time.Location, error) {
	tz = strings.TrimSpace(tz)
	switch {
	case tz == "", strings.EqualFold(tz, "UTC"), strings.EqualFold(tz, "tzone://Microsoft/Utc"):
		return time.UTC, nil
	case strings.EqualFold(tz, "Local"):
		// the host's zone says nothing about the event
		return nil, fmt.Errorf("%w: %q", ErrUnknownTimeZone, tz)
	}
	if iana, ok := windowsZones()[strings.ToLower(tz)]; ok {
		if loc, err := time.LoadLocation(iana); err == nil {
			return loc, nil
		}
		return nil, fmt.Errorf("%w: %q (CLDR's %s does not load)", ErrUnknownTimeZone, truncate(tz, 64), iana)
	}
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownTimeZone, truncate(tz, 64))
}

// Parse reads the value as an instant. Errors: ErrUnknownTimeZone for a
// zone zoneLocation cannot resolve, or a malformed or missing dateTime.
func (d *DateTimeTimeZone) Parse() (time.Time, error) {
	if d == nil || strings.TrimSpace(d.DateTime) == "" {
		return time.Time{}, errors.New("graph: dateTimeTimeZone has no dateTime")
	}
	loc, err := zoneLocation(d.TimeZone)
	if err != nil {
		return time.Time{}, err
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, d.DateTime, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("graph: dateTime %q is not an ISO 8601 date and time", truncate(d.DateTime, 40))
}

// Time reads the value (see Parse); false when it cannot.
func (d *DateTimeTimeZone) Time() (time.Time, bool) {
	t, err := d.Parse()
	return t, err == nil
}
