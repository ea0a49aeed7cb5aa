/**
 * The dashboard's bundle: everything it needs in dist/, so the collector serves it with no CDN
 * and no download at run time. JSX is Preact's (its automatic runtime), compiled by Vite's oxc.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  // Served at the collector's root; relative asset paths would also work behind a path prefix.
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 300 },
});
