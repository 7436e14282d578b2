export { generateID, isValidID } from './id.js'
