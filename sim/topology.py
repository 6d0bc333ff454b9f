"""A topology file for other programs (placeholder, being written)."""
TOPOLOGY = "topology.pdb"


def write_topology(path, scenario, species, positions):
    pass
