// YAML as sigs.k8s.io/yaml writes it (what kind writes its files with): map
// keys sorted, sequences not indented under their key, no line folding.
import { YAML } from 'zx'

// zx's YAML is the yaml library, whose stringify takes options that zx's types leave out.
const stringify = YAML.stringify as (value: unknown, options: object) => string

export function sortedYaml(value: unknown): string {
  return stringify(value, { sortMapEntries: true, indentSeq: false, lineWidth: 0 })
}
