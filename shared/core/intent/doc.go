// Package intent decides, from a deal's engagement evidence, whether the
// deal has really progressed, and explains why.
//
// The engine ([NewEngine], [RuleEngine]) reads every signal once:
//
//   - email: the mail reader ([MailReader], a [mail.Reader] unless
//     [WithMailReader] injects another) reduces it to what the sender wrote
//     now and flags machine mail, in two passes (mail.Read, then a
//     conservative safety net that strips quoted history and signatures
//     again and recognises auto-replies and bounces the first let
//     through). The direction follows from the sender: the vendor
//     (internal_domains), the buyer (the deal's org_domain or person_email)
//     or a third party (weaker: rules decide). Buyer text is matched against
//     cue phrases in five languages with negation ("we are not ready to
//     discuss pricing"), tense ("we will sign"), questions and conditions
//     handled per cue; terms named only for a
//     hypothetical purchase ("if we go ahead next year, legal would ...")
//     do not count, a refusal of one item that engages on another after
//     "but" is not a refusal, and a proposal promised for later ("next
//     week I'll send the proposal") is not a proposal sent;
//   - meeting, document, call and stage_request signals become evidence
//     cues directly (booked/held meetings, canceled ones retired, internal
//     viewers and repeated sessions discounted, buyer-side signatures, ...).
//
// Rules (rules/default.yaml, or any file given to [LoadRules]) map cues to a
// stage of a pipeline, to the won status or to a flag, with thresholds. The
// policies are fixed: forward only, never reopen a closed deal (flag review),
// won only on a buyer-side signature, never lost (an explicit refusal vetoes
// moves and flags review), vague deferrals flag follow_up, and stages may be
// skipped. Every decision lists its reasons, counted or discounted, with the
// words that triggered them.
//
// Every word the engine reads text with is data, one file per language
// (lexicon/en.yaml, de.yaml, fr.yaml, es.yaml, nl.yaml): the cue phrases,
// their macros and the word lists (negations, tense and time markers,
// question, hedge and contrast words, ...). Adding a language is adding a
// file ([LoadLexicon] reads any directory of them, [LoadRulesWithLexicon]
// uses one). The decision runs its policies as named steps (decide.go).
//
// Everything is compiled once by [LoadRules]/[DefaultRules]; an engine holds
// no mutable state and is safe for concurrent use.
package intent
