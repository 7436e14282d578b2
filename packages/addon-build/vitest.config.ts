import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'addon-build',
    include: ['src/**/*.test.ts'],
  },
})
