import { defineConfig } from "vite";

// The page holds the admin key, so the server sends it with a Content-Security-Policy that
// allows exactly its own script and stylesheet by hash. For that the build is ONE file:
// this plugin moves the bundle's script and stylesheet into index.html.
function inlineIntoHtml() {
  return {
    name: "pyconvex-inline-bundle",
    enforce: "post",
    generateBundle(_options, bundle) {
      const page = bundle["index.html"];
      let html = String(page.source);
      for (const [name, item] of Object.entries(bundle)) {
        if (name === "index.html") continue;
        const file = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        if (item.type === "chunk") {
          const code = item.code.replace(/<\/script/gi, "<\\/script");
          const tag = new RegExp(`<script[^>]*src="[^"]*${file}"[^>]*></script>`);
          if (!tag.test(html)) throw new Error(`index.html does not load ${name}`);
          html = html.replace(tag, () => `<script type="module">${code}</script>`);
        } else if (name.endsWith(".css")) {
          const tag = new RegExp(`<link[^>]*href="[^"]*${file}"[^>]*>`);
          if (!tag.test(html)) throw new Error(`index.html does not link ${name}`);
          html = html.replace(tag, () => `<style>${String(item.source)}</style>`);
        } else {
          throw new Error(`unexpected asset ${name}: the page must build to one file`);
        }
        delete bundle[name];
      }
      page.source = html;
    },
  };
}

export default defineConfig({
  base: "./",
  plugins: [inlineIntoHtml()],
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../pyconvex/server/dashboard_dist",
    emptyOutDir: true,
    modulePreload: false,
    assetsInlineLimit: 100_000_000,
    cssCodeSplit: false,
    rolldownOptions: { output: { codeSplitting: false } },
  },
});
