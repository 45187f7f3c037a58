import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { runIdempotent } from '../../http/idempotency.js';
import { IdParam } from '../../http/schema-helpers.js';
import { Customer, CustomerCreate, CustomerList, CustomerListQuery, CustomerPatch } from './customers.schemas.js';
import type { CustomersService } from './customers.service.js';

const CustomerIdParams = IdParam('customerId', 'cst_01jd8x3mc6eskv4hzbmt9hdby7');
const tags = ['Customers'];

export function customersRoutes(db: Db, customers: CustomersService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/customers',
      {
        schema: {
          operationId: 'createCustomer',
          summary: 'Create a customer',
          tags,
          headers: idempotencyHeaders(true),
          body: CustomerCreate,
          response: { 201: Customer, ...errorResponses(400, 401, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 201 }, (executor) =>
          customers.create(executor, scopeOf(request), request.body),
        ),
    );

    app.get(
      '/customers',
      {
        schema: {
          operationId: 'listCustomers',
          summary: 'List customers',
          tags,
          querystring: CustomerListQuery,
          response: { 200: CustomerList, ...errorResponses(400, 401, 429) },
        },
      },
      (request) => customers.list(db, scopeOf(request), request.query),
    );

    app.get(
      '/customers/:customerId',
      {
        schema: {
          operationId: 'getCustomer',
          summary: 'Retrieve a customer',
          tags,
          params: CustomerIdParams,
          response: { 200: Customer, ...errorResponses(401, 404, 429) },
        },
      },
      (request) => customers.get(db, scopeOf(request), request.params.customerId),
    );

    app.patch(
      '/customers/:customerId',
      {
        schema: {
          operationId: 'updateCustomer',
          summary: 'Update a customer',
          description: 'Partial update (spec 2.3). PII fields are write-only. Honours Idempotency-Key when sent.',
          tags,
          headers: idempotencyHeaders(false),
          params: CustomerIdParams,
          body: CustomerPatch,
          response: { 200: Customer, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: false, status: 200 }, (executor) =>
          customers.update(executor, scopeOf(request), request.params.customerId, request.body),
        ),
    );
  };
}

