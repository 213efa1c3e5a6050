/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import type { Plugin } from 'vite';

// The server the dev server proxies API calls to (`iaso serve`, 127.0.0.1:8081 by default).
const api = process.env.IASO_API ?? 'http://127.0.0.1:8081';

/**
 * ODK Web Forms injects its CSS from JavaScript, with 27 Roboto faces inlined as base64 (about
 * 600 KiB gzipped of its 1.1 MiB). The dashboard does not need them (Roboto when installed,
 * else the system font): they are dropped from the form engine's chunk at build time.
 */
function dropWebFormsFonts(): Plugin {
  return {
    name: 'drop-web-forms-fonts',
    transform(code, id) {
      if (!/@getodk[\\/]web-forms[\\/]dist[\\/]index\.js$/.test(id)) return null;
      return { code: code.replace(/@font-face\{[^}]*data:font[^}]*\}/g, ''), map: null };
    },
  };
}

export default defineConfig({
  plugins: [vue(), dropWebFormsFonts()],
  // The bundle is committed and must be byte-identical when rebuilt from the same sources
  // (scripts/check-web.sh): no source maps, content-hashed names, no build timestamps.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    assetsInlineLimit: 2048,
    chunkSizeWarningLimit: 400,
    rolldownOptions: {
      // ODK Web Forms' bundle uses a direct eval (in a dependency of its XPath engine): known, not ours.
      onLog(level, log, handler) {
        if (log.code === 'EVAL' && (log.id ?? '').includes('@getodk')) return;
        handler(level, log);
      },
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
        // Two long-lived chunks for the first screen: the libraries, and the app's shell
        // (API client, session, i18n, router, layout). Pages, dialogs and French load on demand.
        codeSplitting: {
          groups: [
            { name: 'vendor', test: /node_modules[\\/](vue|@vue|vue-router)[\\/]/ },
            // OpenLayers and its helpers: one chunk, loaded by the map views only.
            { name: 'map', test: /node_modules[\\/](ol|rbush|quickselect|earcut|color-[a-z]+|pbf|geotiff)[\\/]/ },
            {
              name: 'shell',
              test: /src[\\/](App|permissions|api[\\/]|stores[\\/]|router[\\/]|i18n[\\/](index|en)|utils[\\/]errors|components[\\/](AppShell|NavMenu|TopBar|AppLogo|Icon|ToastHost|LoadingState|ErrorState|EmptyState))/,
            },
          ],
        },
      },
    },
  },
  server: {
    port: 5173,
    proxy: {
      '/api': api,
      '/login/': api,
      '/logout/': api,
      '/_health': api,
      '/openrosa': api,
      '/files': api,
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.spec.ts'],
  },
});
