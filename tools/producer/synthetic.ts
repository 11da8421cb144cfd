/** Deterministic synthetic quotes (and bad records) for load tests: same seed, same records. */

/** A small fast PRNG (mulberry32); `seed` makes runs repeatable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARACTERS = [
  'Homer Simpson',
  'Marge Simpson',
  'Bart Simpson',
  'Lisa Simpson',
  'Mr. Burns',
  'Waylon Smithers',
  'Ned Flanders',
  'Moe Szyslak',
  'Apu Nahasapeemapetilon',
  'Chief Wiggum',
  'Ralph Wiggum',
  'Nelson Muntz',
  'Milhouse Van Houten',
  'Principal Skinner',
  'Krusty the Clown',
  'Comic Book Guy',
  'Troy McClure',
  'Lionel Hutz',
  'Grampa Simpson',
  'Groundskeeper Willie',
];
const WORDS = (
  "d'oh why you little mmm donuts excellent okily dokily eat my shorts ay caramba worst episode ever " +
  'the goggles do nothing stupid sexy flanders i am so smart s m r t me fail english unpossible ' +
  'nuclear plant springfield duff beer kwik e mart bart lisa maggie marge homer woo hoo release the hounds'
).split(' ');

export interface SyntheticQuote {
  quote: string;
  character: string;
  image: string;
  characterDirection: 'Left' | 'Right';
}

/** One valid quote: 40–400 characters of text, a character, an image URL and a direction. */
export function syntheticQuote(rand: () => number): SyntheticQuote {
  const target = 40 + Math.floor(rand() * 361);
  let quote = '';
  while (quote.length < target) quote += `${WORDS[Math.floor(rand() * WORDS.length)]} `;
  quote = quote.slice(0, target).trim();
  const character = CHARACTERS[Math.floor(rand() * CHARACTERS.length)];
  return {
    quote: quote.charAt(0).toUpperCase() + quote.slice(1),
    character,
    image: `https://cdn.glitch.com/3c3ffadc-3406-4440-bb95-d40ec8fcde72%2F${character.replace(/[^A-Za-z]/g, '')}.png`,
    characterDirection: rand() < 0.5 ? 'Left' : 'Right',
  };
}

/** A bad record value, of four kinds in turn: invalid JSON, a missing field, an empty quote, a bad URL. */
export function invalidValue(i: number, rand: () => number): string {
  const q = syntheticQuote(rand);
  switch (i % 4) {
    case 0:
      return JSON.stringify(q).slice(0, -7);
    case 1:
      return JSON.stringify({ quote: q.quote });
    case 2:
      return JSON.stringify({ ...q, quote: '' });
    default:
      return JSON.stringify({ ...q, image: 'not a url' });
  }
}

/** Whether record `i` of a run is one of the bad ones: exactly floor(n × ratio) of the first n are. */
export const isInvalidIndex = (i: number, ratio: number) =>
  ratio > 0 && Math.floor((i + 1) * ratio) > Math.floor(i * ratio);
