package servercheck

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A Grade says how strongly the rule is worded (RFC 2119).
type Grade string

// The grades.
const (
	Must   Grade = "MUST"
	Should Grade = "SHOULD"
)

// An Outcome is the result of one check.
type Outcome string

// The outcomes.
const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	// NotApplicable: the server does not offer what the rule is about (no
	// revocation endpoint, no refresh token), or the configuration gives
	// the check nothing to work with (one client where it needs two);
	// Result.Why says which.
	NotApplicable Outcome = "not applicable"
)

// An Exchange is one request of a check and the server's answer, with
// every secret the check knows of (client secrets, codes, verifiers,
// states, tokens, assertions) redacted.
type Exchange struct {
	Request  string `json:"request"`            // method, URL and the headers that matter
	Body     string `json:"body,omitempty"`     // the request body
	Status   int    `json:"status,omitempty"`   // 0: no answer
	Response string `json:"response,omitempty"` // the headers that matter, and the start of the body
	Error    string `json:"error,omitempty"`    // why there was no answer
}

// A Result is the outcome of one check.
type Result struct {
	// Name is the rule and what the check does, e.g.
	// "RFC 6749 §4.1.2: a code used twice is refused". It is unique.
	Name string `json:"name"`
	// Rule is the one rule the check tests, e.g. "RFC 6749 §4.1.2".
	Rule     string     `json:"rule"`
	Grade    Grade      `json:"grade"`
	Outcome  Outcome    `json:"outcome"`
	Why      string     `json:"why"`
	Evidence []Exchange `json:"evidence,omitempty"`
}

// A Report is the results of a run of every check against one server.
type Report struct {
	Issuer  string   `json:"issuer"`
	Results []Result `json:"results"`
}

// MustFailed reports whether a check of a MUST failed.
func (r *Report) MustFailed() bool {
	for _, res := range r.Results {
		if res.Grade == Must && res.Outcome == Fail {
			return true
		}
	}
	return false
}

// Result returns the result of the check with this name.
func (r *Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// WriteTable writes the report as a table for people: one line per check
// with its outcome and why, then the evidence of the failures.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OUTCOME\tGRADE\tCHECK\tWHY\n")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Outcome, res.Grade, res.Name, oneLine(res.Why))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Outcome != Fail {
			continue
		}
		fmt.Fprintf(w, "\n== %s (%s)\n%s\n", res.Name, res.Grade, res.Why)
		for _, ex := range res.Evidence {
			fmt.Fprintf(w, "\n%s\n", ex)
		}
	}
	return nil
}

// String is the exchange as text, the request and then the answer.
func (ex Exchange) String() string {
	var b strings.Builder
	b.WriteString("> " + strings.ReplaceAll(ex.Request, "\n", "\n> "))
	if ex.Body != "" {
		b.WriteString("\n> \n> " + ex.Body)
	}
	switch {
	case ex.Error != "":
		b.WriteString("\n< (no answer: " + ex.Error + ")")
	case ex.Response != "":
		b.WriteString("\n< " + strings.ReplaceAll(ex.Response, "\n", "\n< "))
	}
	return b.String()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteJUnit writes the report as JUnit XML, the format CI systems show:
// one test case per check, failed or skipped (not applicable) with why
// and the evidence.
func (r *Report) WriteJUnit(w io.Writer) error {
	type message struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *message `xml:"failure,omitempty"`
		Skipped   *message `xml:"skipped,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := testsuite{Name: "servercheck " + r.Issuer, Tests: len(r.Results)}
	for _, res := range r.Results {
		tc := testcase{Name: res.Name, Classname: string(res.Grade)}
		var text strings.Builder
		for _, ex := range res.Evidence {
			text.WriteString(ex.String() + "\n\n")
		}
		switch res.Outcome {
		case Fail:
			tc.Failure = &message{Message: res.Why, Text: text.String()}
			s.Failures++
		case NotApplicable:
			tc.Skipped = &message{Message: res.Why}
			s.Skipped++
		}
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
