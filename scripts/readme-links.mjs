// The README check of `pnpm docs` (scripts/check-docs.mjs): every published package's README links
// its API page (docs/api/modules/<slug>.html, the page TypeDoc writes for the package), and every
// relative link of every package README names a file that exists (the API pages once TypeDoc has
// run). Links with a scheme (https:, mailto:) and in-page anchors are not followed.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** TypeDoc's file name of a package's module page: `@cnm/client` → `_cnm_client.html`. */
export function apiPageName(packageName) {
  return `${packageName.replace(/[^A-Za-z0-9.-]/g, '_')}.html`
}

/** Every problem of the package READMEs under `root`/packages, as one line each (none: `[]`). */
export function readmeLinkProblems(root) {
  const problems = []
  const packagesDir = path.join(root, 'packages')
  for (const dir of readdirSync(packagesDir).sort()) {
    const pkgDir = path.join(packagesDir, dir)
    const manifest = path.join(pkgDir, 'package.json')
    if (!existsSync(manifest)) continue
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'))
    if (pkg.private) continue
    const readme = path.join(pkgDir, 'README.md')
    const where = path.relative(root, readme)
    if (!existsSync(readme)) {
      problems.push(`${where} is missing`)
      continue
    }
    const text = readFileSync(readme, 'utf8')
    const apiPage = path.join(root, 'docs', 'api', 'modules', apiPageName(pkg.name))
    let linksApi = false
    for (const m of text.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
      const href = m[1] ?? ''
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#')) continue
      const target = path.resolve(pkgDir, decodeURI(href.split('#')[0] ?? ''))
      if (target === apiPage) linksApi = true
      if (!existsSync(target))
        problems.push(`${where}: broken link ${href} (${path.relative(root, target)} does not exist)`)
    }
    if (!linksApi) {
      problems.push(
        `${where} does not link its API page ${path.relative(pkgDir, apiPage)} (see any other package README's API section)`,
      )
    }
  }
  return problems
}
