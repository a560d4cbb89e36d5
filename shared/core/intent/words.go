package intent

import (
	"strings"

	"github.com/stagemover/stagemover/shared/core/mail"
)

// wordLists are the word lists the engine reads text with: the union of
// every language file's `words:` (lexicon/*.yaml; en.yaml says what each
// list is for). Code holds no words of its own: adding a language is adding
// a file.
type wordLists struct {
	// negation
	negators, negationClitics, answerWords, negatorUndo, objectionWords, withoutWords wordSet
	raiseNouns, untilWords                                                            wordSet
	// tense, time and history
	futureWords, pastWords, agoAfter, recentUnits, yearUnits                           wordSet
	historyTime, historyCounts, historyUnits, historyAdj, historyAdjAfter, historyNoun wordSet
	agoBefore                                                                          [][]string
	// questions, hedges, conditions, contrasts
	questionWords, questionStarts, hedgeWords, conditionalWords, contrastWords wordSet
	// clauses
	clauseConj, andConj, subjects, finiteVerbs wordSet
	monthPrefixes                              []string
	// who acts: the rep's own moves in call notes, echoes of the vendor's terms
	vendorVerbs, vendorEchoVerbs, buyerSubjects, youWords, presentSignVerbs, presentSignPronouns wordSet
	wantWords, deadlineWords, transferWords                                                      wordSet
	transferPhrases                                                                              [][]string
	// proposals and documents
	attachWords, offerWords, docWords wordSet
	ndaNames, orderNames              []string
	// emails and meetings
	titleMarks, replyPrefixes []string
}

type wordSet = map[string]bool

// wordList names one list in the language files.
type wordList struct {
	name string
	set  *wordSet    // one word each, read as text is read (case and accents ignored)
	seqs *[][]string // a few words each
	strs *[]string   // text compared as written (lower case)
}

// lists is every list the language files may set, by its name there.
func (w *wordLists) lists() []wordList {
	return []wordList{
		{name: "negators", set: &w.negators},
		{name: "negation_clitics", set: &w.negationClitics},
		{name: "answer_words", set: &w.answerWords},
		{name: "negator_undo", set: &w.negatorUndo},
		{name: "objection_words", set: &w.objectionWords},
		{name: "future_words", set: &w.futureWords},
		{name: "without_words", set: &w.withoutWords},
		{name: "past_words", set: &w.pastWords},
		{name: "ago_after", set: &w.agoAfter},
		{name: "ago_before", seqs: &w.agoBefore},
		{name: "recent_units", set: &w.recentUnits},
		{name: "year_units", set: &w.yearUnits},
		{name: "history_time", set: &w.historyTime},
		{name: "history_counts", set: &w.historyCounts},
		{name: "history_units", set: &w.historyUnits},
		{name: "history_adjectives", set: &w.historyAdj},
		{name: "history_adjectives_after", set: &w.historyAdjAfter},
		{name: "history_nouns", set: &w.historyNoun},
		{name: "raise_nouns", set: &w.raiseNouns},
		{name: "until_words", set: &w.untilWords},
		{name: "question_words", set: &w.questionWords},
		{name: "question_starts", set: &w.questionStarts},
		{name: "hedge_words", set: &w.hedgeWords},
		{name: "conditional_words", set: &w.conditionalWords},
		{name: "contrast_words", set: &w.contrastWords},
		{name: "clause_conjunctions", set: &w.clauseConj},
		{name: "and_conjunctions", set: &w.andConj},
		{name: "subjects", set: &w.subjects},
		{name: "finite_verbs", set: &w.finiteVerbs},
		{name: "ordinal_month_prefixes", strs: &w.monthPrefixes},
		{name: "vendor_verbs", set: &w.vendorVerbs},
		{name: "vendor_echo_verbs", set: &w.vendorEchoVerbs},
		{name: "buyer_subjects", set: &w.buyerSubjects},
		{name: "you_words", set: &w.youWords},
		{name: "present_sign_verbs", set: &w.presentSignVerbs},
		{name: "present_sign_pronouns", set: &w.presentSignPronouns},
		{name: "want_words", set: &w.wantWords},
		{name: "deadline_words", set: &w.deadlineWords},
		{name: "transfer_words", set: &w.transferWords},
		{name: "transfer_phrases", seqs: &w.transferPhrases},
		{name: "attach_words", set: &w.attachWords},
		{name: "offer_words", set: &w.offerWords},
		{name: "offer_documents", set: &w.docWords},
		{name: "nda_names", strs: &w.ndaNames},
		{name: "order_names", strs: &w.orderNames},
		{name: "meeting_title_marks", strs: &w.titleMarks},
		{name: "reply_prefixes", strs: &w.replyPrefixes},
	}
}

// seqAt returns the length of the first of seqs that starts at token j of
// sentence s, or 0.
func seqAt(d *textDoc, seqs [][]string, j, end int) int {
	for _, q := range seqs {
		if j+len(q) > end {
			continue
		}
		ok := true
		for k, w := range q {
			if d.toks[j+k].norm != w {
				ok = false
				break
			}
		}
		if ok {
			return len(q)
		}
	}
	return 0
}

// anyIn reports one of set among the tokens [from, to) of d.
func anyIn(d *textDoc, from, to int, set wordSet) bool {
	for j := from; j < to; j++ {
		if set[d.toks[j].norm] {
			return true
		}
	}
	return false
}

// isNDA: a document named as a non-disclosure agreement.
func (w *wordLists) isNDA(name string) bool {
	l := " " + strings.ToLower(name) + " "
	for _, n := range w.ndaNames {
		if len(n) <= 3 {
			// a short name stands alone ("NDA", not "agenda")
			if i := strings.Index(l, n); i > 0 {
				b, a := l[i-1], l[i+len(n)]
				if !isAlnum(b) && !isAlnum(a) {
					return true
				}
			}
			continue
		}
		if strings.Contains(l, n) {
			return true
		}
	}
	return false
}

// looksLikeOrder: a document of type "other" whose name says it is the
// order itself (order form, agreement, contract, statement of work).
func (w *wordLists) looksLikeOrder(name string) bool {
	l := mail.Fold(strings.ToLower(name))
	for _, n := range w.orderNames {
		if strings.Contains(l, n) {
			return true
		}
	}
	return false
}

// isReplySubject: a subject of a reply or forward.
func (w *wordLists) isReplySubject(s string) bool {
	l := strings.ToLower(s)
	for _, p := range w.replyPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// normTitle is a meeting title without the marks calendars add to it.
func (w *wordLists) normTitle(t string) string {
	t = strings.ToLower(t)
	for _, p := range w.titleMarks {
		t = strings.ReplaceAll(t, p, "")
	}
	return strings.Join(strings.Fields(t), " ")
}
