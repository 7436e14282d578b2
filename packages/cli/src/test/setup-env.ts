// Runs before each test file of this package (vitest `setupFiles`). The `cnm` processes the tests
// spawn (`process.execPath dist/cnm.cjs …`) start as the installed command does: its launcher
// (`#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node`) drops NODE_EXTRA_CA_CERTS, which makes every
// Node start read and parse a CA bundle (~40 ms of CPU here, for each of hundreds of commands)
// that cnm never uses: TLS to a daemon takes its CA from --tlscacert.
delete process.env.NODE_EXTRA_CA_CERTS
