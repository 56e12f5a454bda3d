// The reference app's Vite config. Public build-time variables reach the bundle only from
// the build's process environment: `envDir` points at `env/`, a directory that holds no
// .env files (build-image checks it stays empty), so a stray `.env.production` next to the
// sources can never feed Vite. Only `VITE_` variables are exposed to the page.
import { defineConfig } from 'vite'

export default defineConfig({
  envDir: 'env',
  envPrefix: 'VITE_',
  build: {
    outDir: 'dist',
    // No source maps: they would ship the sources, and nothing here needs them in production.
    sourcemap: false,
  },
  server: {
    // `npm run dev` talks to `cargo run -p server` on its default port.
    proxy: {
      '/api': 'http://localhost:8080',
      '/health': 'http://localhost:8080',
    },
  },
})
