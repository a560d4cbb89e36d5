package graph

import (
	"errors"
	"regexp"
	"strings"
)

// ErrMailboxNotWatched marks a notification or fetch item about a mailbox
// outside the configured list (GRAPH_MAILBOXES). It is permanent: the item
// is refused before any Graph request.
var ErrMailboxNotWatched = errors.New("graph: mailbox is not watched")

// Which mailbox a notification is about, and whether it is watched.
//
// GRAPH_MAILBOXES holds addresses (userPrincipalNames, lower-cased by
// ParseMailboxes); the Renewer subscribes to users/{address}/... and puts
// the address on the notification URL (?mailbox=), which Graph sends back
// with every notification. Graph's resource path usually names the user by
// object id ("users/{user-id}@{tenant-id}/messages/{id}"), which cannot be
// checked against addresses without a directory lookup. So:
//
//   - a mailbox the notification URL (or the stored fetch item) names must
//     be watched;
//   - a mailbox the resource names by address must be watched too, and be
//     the same mailbox;
//   - a notification naming its mailbox only by object id (or not at all)
//     is refused: none of this stack's subscriptions sends one.
//
// Addresses compare case-insensitively. The fetcher reads only
// users/{the watched address}/..., never the resource's user.

// watched reports whether mailbox is one of mailboxes; none are watched
// when the list is empty.
func watched(mailboxes []string, mailbox string) bool {
	mailbox = strings.TrimSpace(mailbox)
	if mailbox == "" {
		return false
	}
	for _, m := range mailboxes {
		if strings.EqualFold(strings.TrimSpace(m), mailbox) {
			return true
		}
	}
	return false
}

// mailboxPattern is a mailbox address GRAPH_MAILBOXES may hold.
var mailboxPattern = regexp.MustCompile(`^[^\s@<>"',;]{1,128}@[A-Za-z0-9.-]{1,190}$`)

var guidAtGUID = regexp.MustCompile(`^([0-9a-fA-F-]{36})@[0-9a-fA-F-]{36}$`)

// isAddress: a user segment that names a mailbox by address, not by object
// id or Graph's "{user-id}@{tenant-id}" notification form.
func isAddress(user string) bool {
	return strings.Contains(user, "@") && !guidAtGUID.MatchString(user)
}

// watchedMailbox returns the watched mailbox (lower case) a notification is
// about, given the mailbox named beside it (the notification URL's
// ?mailbox=, or a fetch item's mailbox); or why it is refused.
func watchedMailbox(mailboxes []string, named string, n Notification) (mailbox, refused string) {
	named = strings.ToLower(strings.TrimSpace(named))
	var inResource string
	if rp, ok := ParseResource(n.Resource); ok && !n.IsLifecycle() && isAddress(rp.User) {
		inResource = strings.ToLower(rp.User)
	}
	switch {
	case named != "" && !watched(mailboxes, named):
		return "", "the mailbox it names is not in GRAPH_MAILBOXES"
	case inResource != "" && !watched(mailboxes, inResource):
		return "", "its resource names a mailbox that is not in GRAPH_MAILBOXES"
	case inResource != "" && named != "" && inResource != named:
		return "", "its resource and its mailbox name different mailboxes"
	case named != "":
		return named, ""
	case inResource != "":
		return inResource, ""
	}
	return "", "it names no mailbox by address (no mailbox parameter, and the resource names the user by id or not at all)"
}
