package classify

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Labels, in rule order: the first rule with a keyword in the text wins. A
// keyword of five letters or more also matches the words it begins
// ("charge" matches "charged", "deliver" "delivery"); a shorter one only
// itself ("bill" is not "billion").
var rules = []struct {
	label    string
	keywords []string
}{
	{"billing", []string{"invoice", "payment", "refund", "charge", "bill", "billing", "overdue", "price", "subscription"}},
	{"shipping", []string{"parcel", "deliver", "shipping", "package", "tracking", "arrive"}},
	{"praise", []string{"thank", "great", "love", "excellent", "perfect", "wonderful"}},
	{"complaint", []string{"broke", "bad", "terrible", "worst", "angry", "late", "rude", "damage", "unacceptable"}},
}

// Other is the label of a text no rule matches.
const Other = "other"

// Label classifies one text.
func Label(text string) string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, r := range rules {
		for _, w := range words {
			for _, k := range r.keywords {
				if w == k || len(k) >= 5 && strings.HasPrefix(w, k) {
					return r.label
				}
			}
		}
	}
	return Other
}

// Result is what a classify job produces (stored in the CAS).
type Result struct {
	Labels []string `json:"labels"`
}

// Run labels every text.
func Run(texts []string) Result {
	labels := make([]string, len(texts))
	for i, t := range texts {
		labels[i] = Label(t)
	}
	return Result{Labels: labels}
}

// ParseInput reads a classify input: a JSON list of strings.
func ParseInput(raw []byte) ([]string, error) {
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return nil, fmt.Errorf("classify input must be a JSON list of strings: %w", err)
	}
	return texts, nil
}
