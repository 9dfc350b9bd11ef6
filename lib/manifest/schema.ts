// The manifest's JSON Schema (draft 2020-12), generated from the same shape the validator reads
// (lib/manifest/shape.ts); published as docs/manifest.schema.json for editors (`render --schema` prints it).
import { MANIFEST, type Shape } from './shape.ts'

type Json = Record<string, unknown>

export function shapeToSchema(s: Shape): Json {
  const description = s.doc
  switch (s.kind) {
    case 'string':
      return {
        type: 'string',
        description,
        ...(s.pattern ? { pattern: s.pattern } : {}),
        ...(s.example ? { examples: [s.example] } : {}),
      }
    case 'int':
      return { type: 'integer', minimum: s.min, maximum: s.max, description }
    case 'number':
      return { type: 'number', minimum: s.min, maximum: s.max, description }
    case 'bool':
      return { type: 'boolean', description }
    case 'enum':
      return { enum: s.values, description }
    case 'array':
      return {
        type: 'array',
        items: shapeToSchema(s.items),
        ...(s.minItems !== undefined ? { minItems: s.minItems } : {}),
        description,
      }
    case 'map':
      return {
        type: 'object',
        propertyNames: { pattern: s.keyPattern },
        additionalProperties: shapeToSchema(s.values),
        description,
      }
    case 'object': {
      const required = Object.entries(s.props)
        .filter(([, p]) => p.required)
        .map(([k]) => k)
      const properties = Object.fromEntries(
        Object.entries(s.props).map(([k, p]) => [
          k,
          { ...shapeToSchema(p.shape), ...(p.default !== undefined ? { default: p.default } : {}) },
        ]),
      )
      return {
        type: 'object',
        properties,
        ...(required.length ? { required } : {}),
        additionalProperties: false,
        description,
      }
    }
  }
}

export function manifestSchema(): Json {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/dms-deploy/manifest.schema.json',
    title: 'Application manifest for the blue-green deployment toolkit',
    ...shapeToSchema(MANIFEST),
  }
}

/** The published file's text (docs/manifest.schema.json). */
export const schemaText = (): string => `${JSON.stringify(manifestSchema(), null, 2)}\n`
