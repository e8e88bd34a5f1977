/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands in the Python package, which serves it at `/` (nanobrain/web/ui.py). Assets are
// resolved against <base href>, which the server sets, so the same build works under any prefix.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "../nanobrain/web/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: { "/api": { target: "http://127.0.0.1:8000", ws: true } },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
