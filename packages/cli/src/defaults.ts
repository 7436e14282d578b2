/** Where `cnm serve` listens by default. */
export const DEFAULT_SOCKET_PATH = '/run/cnm/cnm.sock'
