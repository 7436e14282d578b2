import path from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Vitest's own order runs the projects one after another (by name) and the longest file first
 * only within each: the registry's release round trip (a minute, mostly one core) started after
 * every package's files, four minutes in, and ran alone at the end. This order is the whole run's:
 * files never run first (new ones), then files that failed last time, then the longest first (the
 * durations vitest keeps in its cache directory), so the long files overlap each other and the
 * short ones fill the end.
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache
    const key = (f: TestSpecification): string => `${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`
    const rank = (f: TestSpecification): [number, number] => {
      const last = cache.getFileTestResults(key(f))
      if (!last) return [0, cache.getFileStats(key(f))?.size ?? 0] // never run: first, larger first
      return [last.failed ? 1 : 2, last.duration ?? 0]
    }
    return files
      .map((f) => ({ f, r: rank(f) }))
      .sort((a, b) => a.r[0] - b.r[0] || b.r[1] - a.r[1])
      .map(({ f }) => f)
  }
}
