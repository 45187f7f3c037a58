import type { FastifyInstance } from 'fastify';

/**
 * Remembers every route's path pattern so that the not-found handler can tell "no such path"
 * (404) from "this path, another method" (405 with Allow).
 */
export function trackRoutes(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+');
    const methods = ([] as string[]).concat(route.method);
    routes.push({ pattern: new RegExp(`^${source}/?$`), methods });
  });
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))];
}
