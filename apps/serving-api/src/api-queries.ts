import { applyDecorators } from '@nestjs/common';
import { ApiQuery, type ApiQueryOptions } from '@nestjs/swagger';

/** Documents query parameters in the order given (stacked `@ApiQuery`s would list them bottom-up). */
export function ApiQueries(...queries: ApiQueryOptions[]): MethodDecorator {
  return applyDecorators(...queries.map((query) => ApiQuery(query)));
}
