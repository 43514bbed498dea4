/**
 * esbuild plugins of the Lambda bundles (serverless.yml `custom.esbuild.plugins`, loaded by
 * serverless-esbuild with `require`, hence CommonJS).
 *
 * `sdkSchemaLiteralKeys`: AWS SDK v3 clients since 3.930 generate their serde schemas with computed
 * object keys that name module constants (`{ [_eQN]: "Min" }` with `const _eQN = "ec2QueryName"`).
 * esbuild treats any computed key as a possible side effect and so keeps every schema of the client,
 * used or not: about 540 KB of minified EC2 schemas in each function that sends one EC2 command
 * (https://github.com/aws/aws-sdk-js-v3/issues/7607, https://github.com/evanw/esbuild/issues/4373).
 * The plugin rewrites such a key to the string literal the constant holds, the change the upstream
 * code generator fix makes (https://github.com/smithy-lang/smithy-typescript/pull/1889): same
 * objects, and esbuild can drop the unused schemas. Only keys that are a module-level
 * `const _x = "…"` string of the same file are rewritten; anything else is left as it is. Once the
 * SDK ships literal keys, the plugin finds nothing to rewrite.
 *
 * `zodNamespaceImports`: esbuild cannot tree-shake zod 4 imported as `import { z } from 'zod'`
 * (the package's `z` is a namespace re-exported as a binding), so such a module pulls in all of
 * zod, its ~45 message locales included: about 360 KB of minified code in each function that
 * parses with one of the Powertools parser's built-in schemas, which import zod that way
 * (https://github.com/colinhacks/zod/issues/6597; zod's own `index.js` notes that Rollup and
 * Webpack shake this form, esbuild does not). The plugin rewrites that one import line in the
 * Powertools parser's modules to `import * as z from 'zod'`, the form zod recommends and ours use:
 * the namespace of `zod` holds the same exports as `z` (zod's `index.js`:
 * `import * as z from "./v4/classic/external.js"; export * from "./v4/classic/external.js";
 * export { z }`), so every `z.<name>` is the same function, and esbuild keeps only those used.
 */
const { readFile } = require('node:fs/promises');

/** Schema modules of the SDK clients and of the nested clients of the credential providers. */
const SCHEMA_MODULE =
  /[\\/]@aws-sdk[\\/](client-[^\\/]+|nested-clients)[\\/]dist-es[\\/](.+[\\/])?schemas[\\/]schemas_\d+\.js$/;

/** `const _x = "text";` at the start of a line: a module-level string constant. */
const STRING_CONSTANT = /^const (_\w+) = ("[^"\\\n]*");$/gm;

/** A computed key `[_x]:` right after `{` or `,` (object literal member position). */
const COMPUTED_KEY = /([{,]\s*)\[(_\w+)\]:/g;

/**
 * The module source with every computed key naming a string constant of the module replaced by
 * that string literal. @returns `{ contents, rewritten }` (number of keys replaced).
 */
function literalKeys(source) {
  const strings = new Map(Array.from(source.matchAll(STRING_CONSTANT), (match) => [match[1], match[2]]));
  let rewritten = 0;
  const contents = source.replace(COMPUTED_KEY, (whole, before, name) => {
    const literal = strings.get(name);
    if (literal === undefined) return whole;
    rewritten += 1;
    return `${before}${literal}:`;
  });
  return { contents, rewritten };
}

/**
 * An esbuild plugin that loads the JavaScript modules whose path matches `filter` through
 * `rewrite` (a pure source → `{ contents }` function). @returns {import('esbuild').Plugin}
 */
const sourceRewrite = (name, filter, rewrite) => ({
  name,
  setup(build) {
    build.onLoad({ filter }, async (args) => ({
      contents: rewrite(await readFile(args.path, 'utf8')).contents,
      loader: 'js',
    }));
  },
});

const sdkSchemaLiteralKeys = sourceRewrite('sdk-schema-literal-keys', SCHEMA_MODULE, literalKeys);

/** Powertools parser modules (the ESM build esbuild bundles). */
const POWERTOOLS_PARSER_MODULE = /[\\/]@aws-lambda-powertools[\\/]parser[\\/]lib[\\/]esm[\\/].+\.js$/;

/** The named import of zod's `z` namespace, as a whole line. */
const NAMED_Z_IMPORT = /^import \{ z \} from (['"])zod\1;$/gm;

/** The module source with `import { z } from 'zod';` lines made namespace imports. @returns `{ contents, rewritten }`. */
function namespaceZodImports(source) {
  let rewritten = 0;
  const contents = source.replace(NAMED_Z_IMPORT, (_line, quote) => {
    rewritten += 1;
    return `import * as z from ${quote}zod${quote};`;
  });
  return { contents, rewritten };
}

const zodNamespaceImports = sourceRewrite(
  'zod-namespace-imports',
  POWERTOOLS_PARSER_MODULE,
  namespaceZodImports,
);

module.exports = [sdkSchemaLiteralKeys, zodNamespaceImports];
module.exports.literalKeys = literalKeys;
module.exports.SCHEMA_MODULE = SCHEMA_MODULE;
module.exports.namespaceZodImports = namespaceZodImports;
module.exports.POWERTOOLS_PARSER_MODULE = POWERTOOLS_PARSER_MODULE;
