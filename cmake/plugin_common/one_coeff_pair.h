// The bookkeeping mdrive's own pair styles share (cmake/mace_plugin, cmake/nequip_plugin): a many-body style set
// by one `pair_coeff * * FILE El1 ... ElN` line for every type pair, with no single() and no restart data.
#pragma once

#include "memory.h"
#include "pair.h"

namespace mdrive_plugin {
class OneCoeffPair : public LAMMPS_NS::Pair {
 public:
  explicit OneCoeffPair(LAMMPS_NS::LAMMPS *lmp) : Pair(lmp)
  {
    single_enable = 0;
    restartinfo = 0;
    one_coeff = 1;
    manybody_flag = 1;
  }

  ~OneCoeffPair() override
  {
    if (allocated) {
      memory->destroy(setflag);
      memory->destroy(cutsq);
    }
  }

 protected:
  // the per-type-pair arrays, every pair set: the one pair_coeff line covers them all
  void allocate_all_pairs(int ntypes)
  {
    if (!allocated) {
      allocated = 1;
      memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
      memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
    }
    for (int i = 0; i <= ntypes; ++i)
      for (int j = 0; j <= ntypes; ++j) setflag[i][j] = i > 0 && j >= i;
  }
};
}    // namespace mdrive_plugin
