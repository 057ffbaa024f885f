// Package wasip1 is water-pt's WASI preview-1 host: the errno values and
// their mapping from host errors, and the one shape every host function
// (WASI or WATER) is declared in.
//
// It knows nothing of WATER: package watm builds on it (the WATER imports,
// sessions, the runtime) and hands it what it needs from there. It imports
// only leaf packages (watm/internal/spec), never watm.
package wasip1
