// Package castest is the conformance suite of the cas.Store contract. Every
// backend runs the same tests, so that the backends cannot drift apart:
//
//	func TestConformance(t *testing.T) {
//		castest.Run(t, func(t *testing.T) (cas.Store, func(ref string)) {
//			s := openMyStore(t)
//			return s, func(ref string) { damageBlob(t, s, ref) }
//		})
//	}
//
// open is called once per subtest and must return an empty store and a
// function that corrupts the stored copy of a blob in place, so that its
// bytes no longer hash to ref (flip a byte in the file, overwrite the object
// under the same name), the way a disk or an intruder would.
package castest
