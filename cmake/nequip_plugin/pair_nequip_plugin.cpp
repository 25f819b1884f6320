// mdrive's pair_style nequip and pair_style allegro: a LAMMPS plugin that evaluates models of the NequIP
// framework compiled by `nequip-compile --mode aotinductor --target pair_nequip` (or `pair_allegro`).
// Written for mdrive against the public LAMMPS Pair interface, torch's AOTInductor package loader and the
// inputs and outputs a compiled model declares in its metadata (nequip_aoti_inputs, nequip_aoti_outputs).
// Syntax as the upstream styles: `pair_style nequip` / `pair_style allegro`, `pair_coeff * * model El1 ...`.
//   nequip: message passing, so one periodic cell on one rank: ghosts fold onto their owners with an
//           integer cell shift, newton pair off, the virial from the model (it strains the cell).
//   allegro: strictly local, so any number of ranks: ghosts are graph nodes, edges start at local atoms,
//           newton pair on (ghost forces go home by reverse communication), the virial from f.r.
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "lammps_plugin.h"
#include "one_coeff_pair.h"
#include "periodic_image.h"

using namespace LAMMPS_NS;

namespace {
std::vector<std::string> words(const std::string &text)
{
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}
}    // namespace

class PairNequIPPlugin : public mdrive_plugin::OneCoeffPair {
 public:
  PairNequIPPlugin(LAMMPS *lmp, bool local) : OneCoeffPair(lmp), local(local)
  {
    no_virial_fdotr_compute = local ? 0 : 1;
  }

  void settings(int narg, char **) override
  {
    if (narg) error->all(FLERR, "pair_style {} takes no arguments", style_name());
  }

  void coeff(int narg, char **arg) override
  {
    const int ntypes = atom->ntypes;
    if (narg != 3 + ntypes) error->all(FLERR, "pair_coeff * * model.nequip.pt2 El1 ... ElN: one name per atom type");
    try {
      model = std::make_unique<torch::inductor::AOTIModelPackageLoader>(arg[2]);
    } catch (const std::exception &e) {
      error->all(FLERR, "Cannot load compiled model {}: {}", arg[2], e.what());
    }
    auto meta = model->get_metadata();
    for (const char *key : {"r_max", "type_names", "nequip_aoti_inputs", "nequip_aoti_outputs"})
      if (!meta.count(key)) error->all(FLERR, "{} is not a NequIP-framework AOTInductor model: no {}", arg[2], key);
    r_max = std::stod(meta["r_max"]);
    inputs = words(meta["nequip_aoti_inputs"]);
    outputs = words(meta["nequip_aoti_outputs"]);
    const bool has_cell = std::find(inputs.begin(), inputs.end(), "cell") != inputs.end();
    if (has_cell == local)
      error->all(FLERR, "{} was compiled with --target {}; pair_style {} needs --target pair_{}", arg[2],
                 has_cell ? "pair_nequip" : "pair_allegro", style_name(), style_name());
    const auto names = words(meta["type_names"]);
    type_of.assign(ntypes + 1, -1);
    for (int t = 1; t <= ntypes; ++t) {
      for (size_t k = 0; k < names.size(); ++k)
        if (names[k] == arg[2 + t]) type_of[t] = (int64_t) k;
      if (type_of[t] < 0) error->all(FLERR, "Type name {} is not in the model's types ({})", arg[2 + t], meta["type_names"]);
    }
    allocate_all_pairs(ntypes);
  }

  void init_style() override
  {
    if (local) {
      if (force->newton_pair == 0) error->all(FLERR, "Pair style allegro requires newton pair on");
    } else {
      if (force->newton_pair) error->all(FLERR, "Pair style nequip requires newton pair off");
      if (comm->nprocs > 1) error->all(FLERR, "Pair style nequip runs on one MPI rank (use allegro across ranks)");
      if (atom->map_style == Atom::MAP_NONE) error->all(FLERR, "Pair style nequip needs atom_modify map yes");
    }
    neighbor->add_request(this, NeighConst::REQ_FULL);
  }

  double init_one(int, int) override { return r_max; }

  void compute(int eflag, int vflag) override
  {
    ev_init(eflag, vflag);
    const int nlocal = atom->nlocal;
    const int nnodes = local ? nlocal + atom->nghost : nlocal;
    Graph g = graph(nnodes);
    std::map<std::string, torch::Tensor> given;
    auto dbl = torch::TensorOptions().dtype(torch::kFloat64);
    auto lng = torch::TensorOptions().dtype(torch::kLong);
    given["pos"] = torch::from_blob(atom->x[0], {nnodes, 3}, dbl).clone();
    given["edge_index"] = torch::from_blob(g.edges.data(), {2, g.nedges}, lng).clone();
    auto types = torch::empty({nnodes}, lng);
    auto model_type = types.accessor<int64_t, 1>();    // not types[k] = ...: a tensor op per atom
    for (int k = 0; k < nnodes; ++k) model_type[k] = type_of[atom->type[k]];
    given["atom_types"] = types;
    double cell[9];
    mdrive_plugin::cell_rows(domain->h, cell);
    given["cell"] = torch::from_blob(cell, {1, 3, 3}, dbl).clone();
    given["edge_cell_shift"] = torch::from_blob(g.images.data(), {g.nedges, 3}, dbl).clone();

    std::vector<torch::Tensor> in;
    for (const auto &name : inputs) {
      if (!given.count(name)) error->all(FLERR, "the compiled model asks for input {}, which pair_style {} does not give", name, style_name());
      in.push_back(given[name]);
    }
    std::vector<torch::Tensor> out;
    try {    // a C++ exception must not cross LAMMPS: it becomes this run's error, with the model's message
      out = model->run(in);
    } catch (const std::exception &e) {
      error->one(FLERR, "the compiled model failed: {}", e.what());
    }
    std::map<std::string, torch::Tensor> got;
    for (size_t k = 0; k < outputs.size() && k < out.size(); ++k) got[outputs[k]] = out[k].contiguous();

    auto forces = got.at("forces").accessor<double, 2>();
    double **f = atom->f;
    for (int k = 0; k < nnodes; ++k)
      for (int d = 0; d < 3; ++d) f[k][d] += forces[k][d];
    auto energies = got.at("atomic_energy").accessor<double, 2>();
    for (int k = 0; k < nlocal; ++k) {    // ghosts' energies belong to their own ranks
      if (eflag_global) eng_vdwl += energies[k][0];
      if (eflag_atom) eatom[k] += energies[k][0];
    }
    if (vflag_global && !local) {
      auto w = got.at("virial").reshape({3, 3}).contiguous();
      auto v = w.accessor<double, 2>();
      const int row[6] = {0, 1, 2, 0, 0, 1}, col[6] = {0, 1, 2, 1, 2, 2};
      for (int k = 0; k < 6; ++k) virial[k] += v[row[k]][col[k]];
    }
    if (vflag_fdotr) virial_fdotr_compute();
  }

 protected:
  struct Graph {
    std::vector<int64_t> edges;    // [senders..., receivers...]: centre i, then neighbour j
    std::vector<double> images;    // nequip: integer cell shift of each edge; allegro: none
    int64_t nedges = 0;
  };

  // edges from every local atom to its neighbours within r_max, the ghosts folded for nequip
  Graph graph(int nnodes)
  {
    Graph g;
    std::vector<int64_t> centres, neighbours;
    double **x = atom->x;
    const double cut2 = r_max * r_max;
    for (int ii = 0; ii < list->inum; ++ii) {
      const int i = list->ilist[ii];
      const int *js = list->firstneigh[i];
      for (int jj = 0; jj < list->numneigh[i]; ++jj) {
        int j = js[jj] & NEIGHMASK;
        const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
        if (dx * dx + dy * dy + dz * dz >= cut2) continue;
        double image[3] = {0.0, 0.0, 0.0};
        if (j >= nnodes) j = mdrive_plugin::fold_ghost(atom, domain, error, j, image);
        centres.push_back(i);
        neighbours.push_back(j);
        g.images.insert(g.images.end(), image, image + 3);
      }
    }
    g.nedges = (int64_t) centres.size();
    g.edges = centres;
    g.edges.insert(g.edges.end(), neighbours.begin(), neighbours.end());
    return g;
  }

  const char *style_name() const { return local ? "allegro" : "nequip"; }


  const bool local;
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> model;
  double r_max = 0.0;
  std::vector<std::string> inputs, outputs;
  std::vector<int64_t> type_of;
};

static Pair *create_nequip(LAMMPS *lmp) { return new PairNequIPPlugin(lmp, false); }
static Pair *create_allegro(LAMMPS *lmp) { return new PairNequIPPlugin(lmp, true); }

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  mdrive_plugin::register_pair(lmp, handle, regfunc, "nequip", "NequIP (nequip-compile AOTInductor) for mdrive",
                               create_nequip);
  mdrive_plugin::register_pair(lmp, handle, regfunc, "allegro", "Allegro (nequip-compile AOTInductor) for mdrive",
                               create_allegro);
}
