// Regenerates schema/*.json from the kind declarations (run after a deliberate change to the JSON contract).
import {writeFileSync} from 'node:fs'
import {allSchemas} from '../src/lib/policy/schema.js'
import {modelSchemas} from '../src/lib/model/schema.js'
import {outputSchemas, tenantFileSchema} from '../src/lib/apply/schema.js'

for (const [file, schema] of Object.entries({...allSchemas(), ...modelSchemas()})) writeFileSync(`schema/${file}`, JSON.stringify(schema, null, 2) + '\n')
writeFileSync('schema/TenantFile.json', JSON.stringify(tenantFileSchema(), null, 2) + '\n')
for (const [file, schema] of Object.entries(outputSchemas())) writeFileSync(`schema/${file}`, JSON.stringify(schema, null, 2) + '\n')
