// Vitest settings for the checkpointer conformance run: only this folder's conformance files.
export default {
  test: {
    include: ["tests/conformance/*.conformance.ts"],
    globals: true,
    testTimeout: 30_000,
  },
};
