/** `npm run bench`: prints figures; nothing here asserts a time. */
import { runRenderBench } from './render.js';

runRenderBench();
