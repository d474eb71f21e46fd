package envelope

// Exported for tests of the canonical writer.
var AppendJCSString = appendJCSString
