export { type DriverHarness, describeDriver } from './describe-driver.js'
