/** The record type the tests sink quotes with: the default sink file's quotes route, as the function does. */
import { quotesRoute } from '../../lib/routes/default';

export const quoteType = quotesRoute();
