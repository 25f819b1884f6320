// Registers SevenNet's serial pair style (sevenn/pair_e3gnn/pair_e3gnn.cpp, compiled from the installed
// package) with LAMMPS's `plugin load`, under the name its own patched builds use: e3gnn.
#include "lammps_plugin.h"
#include "pair_e3gnn.h"

static LAMMPS_NS::Pair *create_e3gnn(LAMMPS_NS::LAMMPS *lmp) { return new LAMMPS_NS::PairE3GNN(lmp); }

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  mdrive_plugin::register_pair(lmp, handle, regfunc, "e3gnn", "SevenNet (sevenn's pair_e3gnn) for mdrive",
                               create_e3gnn);
}
