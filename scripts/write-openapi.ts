import fs from 'node:fs/promises';
import path from 'node:path';
import { renderOpenApiDocument } from '../src/openapi-document.js';
import { packageRoot } from '../src/package-root.js';

const target = path.join(packageRoot, 'openapi', 'openapi.json');
await fs.writeFile(target, await renderOpenApiDocument());
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
