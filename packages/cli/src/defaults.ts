/** Where `cnm serve` listens by default. */
export const DEFAULT_SOCKET_PATH = '/run/cnm/cnm.sock'

/** Where `cnm` looks for the daemon, unless `-H` or CNM_HOST says otherwise (@cnm/client's default). */
export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET_PATH}`

/** The group given the daemon's socket, when it exists (its members may use the daemon). */
export const SOCKET_GROUP = 'cnm'

/** The controller's store, unless `--store` or CNM_STORE says otherwise (the controller's default). */
export const DEFAULT_STORE_PATH = '/var/lib/cnm/cnm.db'

/** Where sandboxes are bound, unless `--sandbox-dir` or CNM_SANDBOX_DIR says otherwise (@cnm/sandbox's default). */
export const DEFAULT_SANDBOX_DIR = '/run/cnm/netns'
