/** The name the macvlan driver registers under (Docker's `-d macvlan`). */
export const MACVLAN_DRIVER_NAME = 'macvlan'
