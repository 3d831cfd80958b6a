// Package archtest holds the tests that keep the module's shape: each heavy
// dependency imported only from its one home, leaf packages importing only
// the standard library, no grab-bag package names, and a doc comment on every
// package. It has no code of its own.
package archtest
