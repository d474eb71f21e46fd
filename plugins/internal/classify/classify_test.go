package classify

import (
	"reflect"
	"testing"
)

func TestLabel(t *testing.T) {
	cases := map[string]string{
		"The invoice is 30 days overdue": "billing",
		"great product, thanks!":         "praise",
		"where is my parcel?":            "shipping",
		"will it arrive broken":          "shipping", // rule order: shipping before complaint
		"terrible":                       "complaint",
		"hello":                          Other,
		"":                               Other,
		// The demo's texts.
		"I was charged twice for my subscription this month":     "billing",
		"Please update the billing address on my account":        "billing",
		"The product broke after two days, this is unacceptable": "complaint",
		"The delivery driver was rude and the box was damaged":   "shipping",
		"Thank you, the support team was wonderful":              "praise",
		"Is the shop open on Sundays?":                           Other,
		"a billion reasons":                                      Other, // short keywords match whole words only
		"the latest news":                                        Other,
	}
	for text, want := range cases {
		if got := Label(text); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

func TestRunAndParse(t *testing.T) {
	texts, err := ParseInput([]byte(`["refund please","love it"]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := Run(texts); !reflect.DeepEqual(got.Labels, []string{"billing", "praise"}) {
		t.Fatalf("%v", got)
	}
	if _, err := ParseInput([]byte(`{"not":"a list"}`)); err == nil {
		t.Fatal("accepted an object")
	}
}
