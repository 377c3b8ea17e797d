/**
 * GraphQL Code Generator: typed documents for the public operations in client/operations/,
 * against the committed schema.graphql. `npm run codegen` writes client/generated/; a test fails
 * when the committed output drifts from what this config produces.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['client/operations/*.graphql'],
  generates: {
    'client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string' },
      },
    },
  },
  hooks: {},
};

export default config;
