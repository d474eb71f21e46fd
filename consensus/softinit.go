package consensus

import "github.com/canswarm/swarmhost/consensus/softsettings"

// dragonboat has read its soft settings by now (this package imports it, so
// it initialised first): go back to the working directory the process
// started in. See package softsettings.
func init() { softsettings.Restore() }
