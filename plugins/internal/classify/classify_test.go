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
