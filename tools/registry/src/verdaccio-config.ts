/** What the throwaway registry serves. */
export interface RegistryConfigOptions {
  /** Verdaccio's storage directory: what the uplink served (kept between runs). */
  storage: string
  /** The sub-directory of `storage` that holds what is published under `@cnm` (one per run). */
  published: string
  /** Its htpasswd file (the publisher's account). */
  htpasswd: string
  /**
   * The registry that packages outside `@cnm` are fetched from and cached (the one npm is
   * configured with). Without it, only what was published here (or copied into `storage`) exists.
   */
  uplink?: string
}

/**
 * Verdaccio's configuration (JSON is YAML): `@cnm/*` is only ever what was published here (never
 * proxied), everything else comes from the uplink once and is then served from `storage`.
 */
export function verdaccioConfig(o: RegistryConfigOptions): string {
  const proxy = o.uplink ? { proxy: 'upstream' } : {}
  return `${JSON.stringify(
    {
      storage: o.storage,
      auth: { htpasswd: { file: o.htpasswd, max_users: 1 } },
      uplinks: o.uplink ? { upstream: { url: o.uplink, maxage: '30d', timeout: '60s', max_fails: 5 } } : {},
      packages: {
        '@cnm/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated', storage: o.published },
        '**': { access: '$all', publish: '$authenticated', ...proxy },
      },
      server: { keepAliveTimeout: 60 },
      max_body_size: '200mb',
      log: { type: 'stdout', format: 'json', level: 'warn' },
      web: { enable: false },
      publish: { allow_offline: true },
    },
    null,
    2,
  )}\n`
}
