# Installs what lives outside the prefix's usual tree: the systemd units and
# /etc/gcscim. Run by `cmake --install` (and so by CPack) once the installation
# prefix is known, because the units name the installed gcscim by its full path.
# With the prefix /usr (the Debian package) they go to /lib/systemd/system and
# /etc/gcscim, else to PREFIX/lib/systemd/system and PREFIX/etc/gcscim.
# Set by packaging/CMakeLists.txt: GCS_PKG_DIR (packaging/), GCS_PKG_WORK (a
# directory of the build to write in).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(unit_dir /lib/systemd/system)
  set(etc_dir /etc/gcscim)
else()
  set(unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  set(etc_dir ${CMAKE_INSTALL_PREFIX}/etc/gcscim)
endif()

set(GCS_BINDIR ${CMAKE_INSTALL_PREFIX}/bin)
set(GCS_DOCDIR ${CMAKE_INSTALL_PREFIX}/share/doc/gcscim)
file(READ ${GCS_PKG_DIR}/systemd/hardening.conf GCS_UNIT_HARDENING)
string(STRIP "${GCS_UNIT_HARDENING}" GCS_UNIT_HARDENING)
set(units "")
foreach(name gcscim.service gcscim-sync.service gcscim-sync.timer)
  set(src ${GCS_PKG_DIR}/systemd/${name}.in)
  if(NOT EXISTS ${src})
    set(src ${GCS_PKG_DIR}/systemd/${name})
  endif()
  configure_file(${src} ${GCS_PKG_WORK}/units/${name} @ONLY)
  list(APPEND units ${GCS_PKG_WORK}/units/${name})
endforeach()
file(INSTALL DESTINATION ${unit_dir} TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES ${units})

# Settings for everyone to read; secrets in credentials/, for root alone.
file(INSTALL DESTINATION ${etc_dir} TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES ${GCS_PKG_DIR}/etc/config.json ${GCS_PKG_DIR}/etc/sync.env)
file(MAKE_DIRECTORY ${GCS_PKG_WORK}/credentials)
file(INSTALL DESTINATION ${etc_dir} TYPE DIRECTORY
     DIR_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     FILES ${GCS_PKG_WORK}/credentials)
