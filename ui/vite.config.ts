import { defineConfig } from "vite";

// The web view loads the built files from the app bundle: no dev server in the product.
export default defineConfig({
  clearScreen: false,
  build: { target: "es2021", outDir: "dist", emptyOutDir: true, sourcemap: false },
});
