import { defineConfig } from "vitest/config";

// The server serves dist/ at `/`; in `npm run dev` the API is proxied to a running server.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": { target: process.env.FLEET_API ?? "http://127.0.0.1:8080", ws: true },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
