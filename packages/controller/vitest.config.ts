import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'controller',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
