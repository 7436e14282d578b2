// Builds a package's native addon at install time, offline (node-gyp pointed at the running
// Node's own headers), or skips the build when the tarball's prebuilt addon loads here; and makes
// those prebuilds when the package is packed. Plain JavaScript, because it runs from an install
// script before anything is compiled; its one dependency, node-gyp-build, is plain JavaScript too.
export { buildAddon } from './build.js'
export { nodeGypInvocation, nodePrefix } from './node-gyp.js'
export { prebuildAddon, prebuildDir, prebuildIsFresh } from './prebuild.js'
export { buildIsFresh, gypTargets, prebuiltAddon } from './targets.js'
