// The error codes of the daemon and the thin command line (their kinds are given where they are
// raised: CliError takes `kind` for codes outside the CLI's own table).

/** A subnet overlaps an existing network's (409, naming that network). */
export const ERR_NETWORK_OVERLAPS = 'ERR_NETWORK_OVERLAPS'
/** A request that breaks the route's schema (400, naming the field's path), or a body that is not JSON. */
export const ERR_INVALID_REQUEST = 'ERR_INVALID_REQUEST'
/** A route that exists, asked with another method (405, with `Allow`). */
export const ERR_METHOD_NOT_ALLOWED = 'ERR_METHOD_NOT_ALLOWED'
/** A body that is not `application/json` (415). */
export const ERR_UNSUPPORTED_MEDIA_TYPE = 'ERR_UNSUPPORTED_MEDIA_TYPE'
/** A body larger than the daemon takes (413). */
export const ERR_BODY_TOO_LARGE = 'ERR_BODY_TOO_LARGE'
/** `cnm serve --listen` without mutual TLS and without `--insecure-tcp` (or `--insecure-tcp` off loopback). */
export const ERR_INSECURE_TCP = 'ERR_INSECURE_TCP'
/** A command that needs root (or the daemon's socket group) run without it. */
export const ERR_PERMISSION_DENIED = 'ERR_PERMISSION_DENIED'
/** A command that only the daemon can do (`cnm events`) with no daemon listening. */
export const ERR_DAEMON_UNREACHABLE = 'ERR_DAEMON_UNREACHABLE'
/** The daemon is shutting down (503). */
export const ERR_SHUTTING_DOWN = 'ERR_SHUTTING_DOWN'
